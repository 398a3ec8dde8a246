"""The service's own rules, free of I/O: documents, masking, numbers, time, colours, tokens, offline codes, images."""
