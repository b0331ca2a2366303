"""Houston's pure core: data in, data out.

Nothing under `houston.core` touches the filesystem, the clock or randomness: the time
("now") and new ids come in as arguments. Every decision here is unit-tested in
milliseconds without files; the I/O modules around it gather the records and apply
what it decides.

- `errors`: the one error base, its fields, messages and exit codes;
- `ids`: mission ids (made from a given time and suffix) and safe names;
- `lifecycle`: mission states, outcomes, reasons and the transition table;
- `taskstate`: task states, how an attempt ended, and what follows it (requeue, crash cap);
- `dag`: a mission's needs, cycles and ready set;
- `timestamps`: how times are written in Houston's files and read back;
- `budget`: budget limits, usage, reservations and the figures of a budget stop;
- `templating`: result references and the templates of task inputs;
- `yamldoc`, `yamlstrict`, `yamlstrict_messages`: strict YAML loading (text in, a document
  with every node's position out) and its error messages.
"""
