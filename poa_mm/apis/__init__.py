"""What the tools call: extraction, export, the family listing, FLOPs and
latency, the budget picker, elastify and the downstream config writers."""
