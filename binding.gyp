# The binding sources as an ordinary Node addon, linked with a test double of the broker's flashmq_* functions
# (native/testing/fake_host.cc), so the mocha tests exercise the marshalling under stock Node without a broker.
# The plugin itself is built by CMakeLists.txt.
{
  "targets": [
    {
      "target_name": "flashmq_binding_test",
      "sources": [
        "native/binding.cc",
        "native/read_acl.cc",
        "native/memory_plan.cc",
        "native/status_file.cc",
        "native/replace_file.cc",
        "native/topic_filter.cc",
        "native/testing/fake_host.cc",
        "native/testing/addon_entry.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "native"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_CPP_EXCEPTIONS", "NODE_ADDON_API_CPP_EXCEPTIONS_ALL", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "libraries": ["-lcrypt"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=c++20", "-fexceptions", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
