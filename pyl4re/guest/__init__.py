"""What runs inside a VM: guest programs and the guest side of devices (virtio.py)."""
