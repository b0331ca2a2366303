"""What the tests share: engines and missions, packages, loopback servers that stand in
for remote model APIs, a Ray cluster on loopback, Chromium, the Claude Code CLI."""
