-- name: payment_shipping_preferences
-- title: Payment and shipping preferences
-- question: Which payment methods and shipping types do customers prefer, and how much do they spend with each?
-- columns: preference (payment_method or shipping_type), preference_rank (1 = most used), choice, purchases, purchase_share (of all purchases, 0-1), customers (distinct), revenue (USD), median_amount (USD), avg_amount (USD)
-- needs: payment_method, shipping_type
-- tie-break: within a preference, rank by purchases desc, then revenue desc, then choice name asc (ROW_NUMBER).
WITH choices AS (
    SELECT 'payment_method' AS preference, payment_method AS choice, customer_id, purchase_amount_usd
    FROM purchases
    UNION ALL
    SELECT 'shipping_type' AS preference, shipping_type AS choice, customer_id, purchase_amount_usd
    FROM purchases
), amounts AS (
    SELECT preference,
           choice,
           COUNT(*) AS purchases,
           ROUND(SUM(purchase_amount_usd), 2) AS revenue,
           MEDIAN(purchase_amount_usd) AS median_amount,
           ROUND(AVG(purchase_amount_usd), 2) AS avg_amount
    FROM choices
    GROUP BY preference, choice
), buyers AS (
    -- Distinct customers are counted on their own: in one aggregation with MEDIAN, Spark expands every
    -- row for the DISTINCT and runs the median over the expanded rows (2-3x slower, docs/benchmarks.md).
    SELECT preference, choice, COUNT(*) AS customers
    FROM (SELECT DISTINCT preference, choice, customer_id FROM choices) AS pairs
    GROUP BY preference, choice
), summary AS (
    SELECT a.preference, a.choice, a.purchases, b.customers, a.revenue, a.median_amount, a.avg_amount
    FROM amounts AS a
    JOIN buyers AS b ON a.preference = b.preference AND a.choice = b.choice
)
SELECT preference,
       ROW_NUMBER() OVER (PARTITION BY preference ORDER BY purchases DESC, revenue DESC, choice) AS preference_rank,
       choice,
       purchases,
       ROUND(purchases / SUM(purchases) OVER (PARTITION BY preference), 4) AS purchase_share,
       customers,
       revenue,
       ROUND(median_amount, 2) AS median_amount,
       avg_amount
FROM summary
ORDER BY preference, preference_rank
