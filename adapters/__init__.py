"""I/O adapters that drive the emqtt_core engine over real sockets."""
