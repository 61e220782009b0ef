"""The application shell: config, composition root, CLI, web."""
