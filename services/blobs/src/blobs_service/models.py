"""No models: present so ``migrate`` sends this app its post_migrate signal (cache table)."""
