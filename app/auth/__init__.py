"""People who use the web app: accounts with roles (staff, reviewer, admin), passwords and demo accounts."""
