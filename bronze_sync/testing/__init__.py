"""Test doubles that speak real protocols over real sockets (the Dataverse emulator)."""
