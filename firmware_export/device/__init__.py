"""The firmware folder on the real TFLite Micro library: built with the folder's own Makefile
for the host or a Cortex-M4 (:mod:`.build`), run on a WAV natively or under QEMU (:mod:`.run`),
with the WAV harness, M4 start-up and linker script that the builds link."""
