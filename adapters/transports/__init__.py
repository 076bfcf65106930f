"""Transport layers between the network and the engine, shared by all adapters."""
