-- name: top_categories_by_age_group
-- title: Top categories by age group
-- question: Which three categories earn the most in each age group, and what share of that group's revenue does each take?
-- columns: age_group, category_rank (1 = best), category, purchases, revenue (USD), revenue_share (of the age group's revenue, 0-1)
-- needs: age
-- tie-break: within an age group, rank by revenue desc, then purchases desc, then category name asc (ROW_NUMBER, so ranks are unique).
WITH by_group AS (
    SELECT {age_group} AS age_group,
           category,
           COUNT(*) AS purchases,
           ROUND(SUM(purchase_amount_usd), 2) AS revenue
    FROM purchases
    GROUP BY age_group, category
), ranked AS (
    SELECT age_group,
           category,
           purchases,
           revenue,
           ROUND(revenue / SUM(revenue) OVER (PARTITION BY age_group), 4) AS revenue_share,
           ROW_NUMBER() OVER (PARTITION BY age_group ORDER BY revenue DESC, purchases DESC, category) AS category_rank
    FROM by_group
)
SELECT age_group, category_rank, category, purchases, revenue, revenue_share
FROM ranked
WHERE category_rank <= 3
ORDER BY {age_group_order}, category_rank
