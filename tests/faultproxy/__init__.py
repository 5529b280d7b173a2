"""Tests of the fault proxy (emulator/fault_proxy): its rules, and the proxy as a process."""
