"""Standard letters to creditors, the municipality and the detainee: content, texts and their rendering to text."""
