"""Domain logic as plain functions: they take users, ids and values, own the commits
and raise ``livelite.services.errors`` exceptions; views and socket handlers stay thin."""
