"""rules_cc's public API, forwarded to Bazel's native rules.

Bazel's own @bazel_tools loads the toolchain rules from here too, so they are all forwarded.
"""

cc_library = native.cc_library
cc_binary = native.cc_binary
cc_test = native.cc_test
cc_import = native.cc_import
cc_proto_library = native.cc_proto_library
cc_toolchain = native.cc_toolchain
cc_toolchain_suite = native.cc_toolchain_suite
objc_library = native.objc_library
