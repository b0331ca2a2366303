"""The `python` runner: call `module:function` of the agent's package inside the worker.

The module is loaded from the package folder by file location under a name unique to the
package folder, so two packages may both ship `main.py`; the package folder is also put on
`sys.path` for the module's own imports. The function gets the context
(`houston.runners.AgentContext`) and returns a dict (the result), None (an empty result),
or any other JSON value (wrapped as {"value": ...}).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from houston.core.errors import RunnerError
from houston.runners import AgentContext, Job, Outcome

_loaded: dict[tuple[str, str], Any] = {}


def load_entrypoint(entrypoint: str, package_dir: Path | None) -> Callable[..., Any]:
    """`module:function` from the package folder first, else from sys.path."""
    module_name, _, func_name = entrypoint.partition(":")
    if not module_name or not func_name:
        raise RunnerError(
            f"entrypoint {entrypoint!r} is not module:function", fix="write it like summarize:main"
        )
    module = _load_module(module_name, package_dir)
    func = getattr(module, func_name, None)
    if not callable(func):
        raise RunnerError(
            f"{module_name} has no function {func_name!r}",
            where=str(getattr(module, "__file__", module_name)),
            fix="check the entrypoint's function name",
        )
    return func  # type: ignore[no-any-return]


def _load_module(module_name: str, package_dir: Path | None) -> Any:
    key = (str(package_dir), module_name)
    if key in _loaded:
        return _loaded[key]
    candidate = None
    if package_dir is not None:
        base = package_dir / Path(*module_name.split("."))
        for path in (base.with_suffix(".py"), base / "__init__.py"):
            if path.is_file():
                candidate = path
                break
    if candidate is not None and package_dir is not None:
        if str(package_dir) not in sys.path:
            sys.path.append(str(package_dir))
        # A checksum of the folder, not a hash: hashlib loads OpenSSL, a worker's first
        # python job would wait for it, and the name needs no more than to differ.
        digest = f"{zlib.crc32(str(package_dir).encode()):08x}"
        unique = f"houston_agent_{digest}_{module_name.replace('.', '_')}"
        spec = importlib.util.spec_from_file_location(unique, candidate)
        if spec is None or spec.loader is None:
            raise RunnerError(f"cannot load {candidate}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[unique] = module
        spec.loader.exec_module(module)
    else:
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise RunnerError(
                f"cannot import {module_name!r}: {exc}",
                where=str(package_dir or "sys.path"),
                fix="check the entrypoint's module path",
            ) from exc
    _loaded[key] = module
    return module


def as_result(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    return {"value": value}


class PythonRunner:
    name = "python"

    def run(self, job: Job, ctx: AgentContext) -> Outcome:
        entrypoint = job.agent.get("entrypoint")
        if not entrypoint:
            raise RunnerError(
                f"agent {job.agent_ref} has no entrypoint",
                fix="add entrypoint: module:function to its front matter",
            )
        func = load_entrypoint(str(entrypoint), Path(job.package_dir))
        return Outcome(ok=True, result=as_result(func(ctx)))


RUNNER = PythonRunner()
