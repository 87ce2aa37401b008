"""The control plane: JSON-RPC 2.0 over HTTP POST /rpc on the daemon's Unix socket."""
