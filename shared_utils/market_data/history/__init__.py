"""Historical minute bars for backtests: import users' CSV/Parquet files once (`importer`, needs
pandas), read them fast per simulated minute (`quotes.HistoricalQuotes`, numpy only)."""
