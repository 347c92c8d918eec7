-- name: demographic_segments
-- title: Demographic segments
-- question: How is revenue split across age group x gender x subscription segments?
-- columns: age_group, gender, subscription_status, customers (distinct), purchases, revenue (USD), revenue_share (of total revenue, 0-1), spend_per_customer (USD), revenue_rank (1 = segment with the most revenue)
-- needs: age, gender, subscription_status
-- tie-break: revenue_rank by revenue desc, then customers desc, then age group order, gender, subscription_status (ROW_NUMBER); rows ordered by age group, gender, subscription_status.
WITH segments AS (
    SELECT {age_group} AS age_group,
           gender,
           subscription_status,
           COUNT(DISTINCT customer_id) AS customers,
           COUNT(*) AS purchases,
           ROUND(SUM(purchase_amount_usd), 2) AS revenue
    FROM purchases
    GROUP BY age_group, gender, subscription_status
)
SELECT age_group, gender, subscription_status, customers, purchases, revenue,
       ROUND(revenue / SUM(revenue) OVER (), 4) AS revenue_share,
       ROUND(revenue / customers, 2) AS spend_per_customer,
       ROW_NUMBER() OVER (ORDER BY revenue DESC, customers DESC, {age_group_order}, gender, subscription_status)
           AS revenue_rank
FROM segments
ORDER BY {age_group_order}, gender, subscription_status
