"""Historical reports: figures from the event log and the history, the table and its CSV,
and the daily report by e-mail."""
