{
  "targets": [
    {
      "target_name": "weft_pcap",
      "sources": ["src/weft_pcap.c"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-O2"],
      "defines": ["NAPI_VERSION=8"],
      "conditions": [
        ["OS=='win'", {
          "include_dirs": ["<!(echo %NPCAP_SDK%)/Include"],
          "libraries": ["<!(echo %NPCAP_SDK%)/Lib/x64/wpcap.lib", "ws2_32.lib"]
        }, {
          "libraries": ["-lpcap"]
        }]
      ]
    }
  ]
}
