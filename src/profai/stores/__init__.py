"""Storage backends: the vector store (Chroma) and the blob store."""
