"""Starting the whole stack on one machine: `make up`, and the test fixtures."""
