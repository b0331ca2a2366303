"""Git workspaces of missions and attempts: the git commands (gitops), a task's worktree
and the mission's repository (workspace), merging needed branches into the mission's
integration branch (integration), removing worktrees that are no longer needed
(worktree_gc), and whether an attempt wants a worktree at all (mode). Used by the worker,
the actions, `houston gc` and the packages' agents."""
