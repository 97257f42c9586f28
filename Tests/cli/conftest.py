def pytest_configure(config):
    config.addinivalue_line(
        "markers", "sandbox: runs berth as root in a sandbox host; lane 2 runs them (make test-kernel)")
