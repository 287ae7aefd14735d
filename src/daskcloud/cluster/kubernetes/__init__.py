"""cluster/kubernetes."""
