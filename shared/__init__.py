"""Code every Vivian process shares: wire protocol, subjects, errors, settings. No domain logic."""
