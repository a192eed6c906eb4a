pytest_plugins = ["echo_runtime.testing"]
