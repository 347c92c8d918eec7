"""Analytics & BI layer: EDA and KPIs, plots, the analytical SQL suite, market baskets, the HTML report."""
