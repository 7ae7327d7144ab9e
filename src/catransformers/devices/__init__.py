"""Devices one can buy (edge SoCs, NPUs, datacenter GPUs, a server CPU) as a hardware space: catalogue, roofline
cost model with fitted efficiencies, embodied carbon from product footprints or components, and allocation."""

from catransformers.devices.catalogue import ENV_VAR, load_catalogue, parse_device, resolve_devices
from catransformers.devices.embodied import device_embodied
from catransformers.devices.evaluate import DeviceSettings, estimate_on_device, evaluate_devices
from catransformers.devices.schema import DeviceFile

__all__ = [
    "ENV_VAR", "DeviceFile", "DeviceSettings", "device_embodied", "estimate_on_device", "evaluate_devices",
    "load_catalogue", "parse_device", "resolve_devices",
]
