"""Fixtures shared by the whole suite."""

import ipaddress
import socket

import keras
import pytest


def _is_local(address):
    host = address[0] if isinstance(address, tuple) else address
    if not isinstance(host, str) or host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name other than localhost: would need DNS


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Tests never touch the network: any non-loopback connect fails loudly."""
    real_connect = socket.socket.connect

    def guarded_connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address):
            raise RuntimeError(f"test tried to reach the network: {address!r}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)


@pytest.fixture(autouse=True)
def fresh_keras_session():
    """Each test starts from a clean Keras name scope and a fixed seed.

    `free_memory=False` skips the full `gc.collect()` that makes a plain
    `clear_session()` cost ~0.5 s per test on these machines.
    """
    keras.backend.clear_session(free_memory=False)
    keras.utils.set_random_seed(0)
