"""Asterisk I/O only: AGI and AMI codecs, the FastAGI server, the AMI client, and an emulator."""
