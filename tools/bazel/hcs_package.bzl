"""`hcs_python_package`: the Bazel targets every package under packages/ has.

- `<module>`: the py_library (sources under src/, importable as `<module>`);
- `tests`: one py_test per tests/test_*.py, run by pytest;
- `package_check`: the package's pyproject, version, README and py.typed agree.
"""

load("@rules_python//python:defs.bzl", "py_library")
load("//tools/bazel:pytest.bzl", "pytest_test", "pytest_tests")

def hcs_python_package(module, visibility, deps = [], test_deps = [], test_data = [], test_tags = []):
    # The pyproject names the package's version; the image recipes' test (tests/images) reads it.
    native.exports_files(["pyproject.toml"], visibility = ["//tests:__subpackages__"])
    py_library(
        name = module,
        srcs = native.glob(["src/%s/**/*.py" % module]),
        data = native.glob(["src/%s/**/*" % module], exclude = ["**/*.py", "**/__pycache__/**"]),
        imports = ["src"],
        deps = deps,
        visibility = visibility,
    )
    tests = native.glob(["tests/test_*.py"])
    if tests:
        pytest_tests(
            name = "tests",
            srcs = tests,
            deps = [":" + module] + test_deps,
            data = test_data,
            tags = test_tags,
        )
    pytest_test(
        name = "package_check",
        src = "//tools/bazel:package_check_test.py",
        data = ["pyproject.toml", "README.md"],
        env = {"HCS_PACKAGE_DIR": native.package_name()},
        deps = [":" + module],
    )
