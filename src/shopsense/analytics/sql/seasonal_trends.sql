-- name: seasonal_trends
-- title: Seasonal trends
-- question: How does revenue move across seasons, and which categories lead each season?
-- columns: season, season_revenue (USD), season_revenue_rank (1 = highest-revenue season), season_rank (category's rank within the season), category, purchases, revenue (USD), season_share (category's share of the season's revenue, 0-1), avg_amount (USD)
-- needs: season
-- tie-break: seasons rank by revenue desc then season name asc; categories within a season by revenue desc, then purchases desc, then category name asc (ROW_NUMBER).
WITH by_season AS (
    SELECT season,
           category,
           COUNT(*) AS purchases,
           ROUND(SUM(purchase_amount_usd), 2) AS revenue,
           ROUND(AVG(purchase_amount_usd), 2) AS avg_amount
    FROM purchases
    GROUP BY season, category
), with_season AS (
    SELECT *, ROUND(SUM(revenue) OVER (PARTITION BY season), 2) AS season_revenue
    FROM by_season
)
SELECT season,
       season_revenue,
       DENSE_RANK() OVER (ORDER BY season_revenue DESC, season) AS season_revenue_rank,
       ROW_NUMBER() OVER (PARTITION BY season ORDER BY revenue DESC, purchases DESC, category) AS season_rank,
       category,
       purchases,
       revenue,
       ROUND(revenue / season_revenue, 4) AS season_share,
       avg_amount
FROM with_season
ORDER BY {season_order}, season_rank
