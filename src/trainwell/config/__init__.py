"""The typed training config: schema, loading, overrides and validation."""

from trainwell.config.io import config_from_dict, dump, load_config, read_mapping, save_config, validate
from trainwell.config.schema import Config
from trainwell.config.structure import field_help, to_dict

__all__ = ["Config", "config_from_dict", "dump", "field_help", "load_config", "read_mapping", "save_config", "to_dict", "validate"]
