"""The math of align: losses, advantages, KL estimators, schedules. Imports only torch."""
