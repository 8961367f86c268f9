// Placeholder translation unit for a module whose sources have not landed yet.
