"""The pure core: graph, states and rules. No trio, no sockets, no processes, no terminal."""
