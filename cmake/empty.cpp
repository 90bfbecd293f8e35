// Placeholder so an empty layer still forms a library.
