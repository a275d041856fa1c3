{
  "targets": [
    {
      "target_name": "peftjs_native",
      "sources": ["csrc/binding.c", "csrc/gemm.c", "csrc/adam.c", "csrc/threads.c",
                  "csrc/store.c", "csrc/fused.c"],
      "cflags_c": ["-std=gnu11", "-O3", "-ffp-contract=off", "-fno-math-errno", "-fvisibility=hidden"],
      "cflags!": ["-fno-exceptions"],
      "libraries": ["-lpthread", "-lm"],
      "xcode_settings": {
        "OTHER_CFLAGS": ["-std=gnu11", "-O3", "-ffp-contract=off", "-fno-math-errno"]
      }
    }
  ]
}
