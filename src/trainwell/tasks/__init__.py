"""Built-in tasks (digits, fashion-mnist, text-classification, tabular) and user tasks ("pkg.mod:fn")."""
