"""End-to-end tests: real kube-apiserver, emulator process, operator process."""
