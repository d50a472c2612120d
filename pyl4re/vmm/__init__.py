"""The VMM side of virtualization: guest RAM as devices see it (guest_memory.py), the
VirtIO MMIO transport (virtio_mmio.py) and split virtqueues (virtqueue.py), the console
and block devices, and the device tree a guest boots with (devicetree.py). The guest
side of the same devices is pyl4re.guest.virtio. docs/vmm.md says what is there."""
