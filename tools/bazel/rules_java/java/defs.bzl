"""rules_java's public API, forwarded to Bazel's native rules (Bazel's @bazel_tools loads these)."""

java_library = native.java_library
java_binary = native.java_binary
java_test = native.java_test
java_import = native.java_import
java_runtime = native.java_runtime
java_toolchain = native.java_toolchain
java_proto_library = native.java_proto_library
