-- name: geographic_patterns
-- title: Revenue by state
-- question: Which states bring the most revenue, and which category leads in each state?
-- columns: revenue_rank (1 = top state), state, purchases, customers (distinct), revenue (USD), revenue_share (of total revenue, 0-1), top_category, top_category_revenue (USD), top_category_share (of the state's revenue, 0-1)
-- needs: location
-- tie-break: states rank by revenue desc, then purchases desc, then state name asc; a state's top category by revenue desc, then purchases desc, then category name asc (ROW_NUMBER both).
WITH by_state AS (
    SELECT location AS state,
           COUNT(*) AS purchases,
           COUNT(DISTINCT customer_id) AS customers,
           ROUND(SUM(purchase_amount_usd), 2) AS revenue
    FROM purchases
    GROUP BY location
), state_category AS (
    SELECT location AS state,
           category,
           ROUND(SUM(purchase_amount_usd), 2) AS revenue,
           ROW_NUMBER() OVER (PARTITION BY location
                              ORDER BY SUM(purchase_amount_usd) DESC, COUNT(*) DESC, category) AS category_rank
    FROM purchases
    GROUP BY location, category
)
SELECT ROW_NUMBER() OVER (ORDER BY s.revenue DESC, s.purchases DESC, s.state) AS revenue_rank,
       s.state,
       s.purchases,
       s.customers,
       s.revenue,
       ROUND(s.revenue / SUM(s.revenue) OVER (), 4) AS revenue_share,
       c.category AS top_category,
       c.revenue AS top_category_revenue,
       ROUND(c.revenue / s.revenue, 4) AS top_category_share
FROM by_state AS s
JOIN state_category AS c ON c.state = s.state AND c.category_rank = 1
ORDER BY revenue_rank
