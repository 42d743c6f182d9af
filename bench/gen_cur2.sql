-- A deterministic CUR 2.0 (AWS Data Exports) Parquet file of Bedrock line items for the
-- ingest benchmark: `duckdb -c "SET VARIABLE rows = 1000000; SET VARIABLE out = 'x.parquet'; .read bench/gen_cur2.sql"`
-- is awkward, so bench/run substitutes ROWS and OUT with sed. Columns and types as in
-- fixtures/aws/cur2-2026-06.parquet (docs/formats/aws.md): daily line items of a month,
-- 12 usage types x 40 inference profiles x 30 days x accounts, a resource_tags map.
COPY (
    WITH ids AS (SELECT range AS i FROM range(ROWS)),
    t AS (
        SELECT i,
            i % 30 AS day,
            (i // 30) % 12 AS ut,
            (i // 360) % 40 AS prof,
            (i // 14400) AS acct
        FROM ids
    )
    SELECT
        md5(i::VARCHAR) AS identity_line_item_id,
        strftime(TIMESTAMP '2026-06-01' + INTERVAL (day) DAY, '%Y-%m-%dT%H:%M:%SZ') || '/' ||
            strftime(TIMESTAMP '2026-06-02' + INTERVAL (day) DAY, '%Y-%m-%dT%H:%M:%SZ') AS identity_time_interval,
        '1234567890' AS bill_invoice_id,
        'AWS' AS bill_billing_entity,
        'Anniversary' AS bill_bill_type,
        '111122223333' AS bill_payer_account_id,
        TIMESTAMP '2026-06-01' AS bill_billing_period_start_date,
        TIMESTAMP '2026-07-01' AS bill_billing_period_end_date,
        lpad((100000000000 + acct)::VARCHAR, 12, '0') AS line_item_usage_account_id,
        'Usage' AS line_item_line_item_type,
        TIMESTAMP '2026-06-01' + INTERVAL (day) DAY AS line_item_usage_start_date,
        TIMESTAMP '2026-06-02' + INTERVAL (day) DAY AS line_item_usage_end_date,
        'AmazonBedrock' AS line_item_product_code,
        ['USE1-Claude4.6Sonnet-input-tokens', 'USE1-Claude4.6Sonnet-output-tokens',
         'USE1-Claude4.6Sonnet-cache-read-input-token-count', 'USE1-Claude4.6Sonnet-cache-write-input-token-count',
         'USE1-Claude4.5Haiku-input-tokens', 'USE1-Claude4.5Haiku-output-tokens',
         'USE1-NovaPro-input-tokens', 'USE1-NovaPro-output-tokens',
         'USE1-Nova2.0Lite-input-tokens-flex', 'USE1-Nova2.0Lite-output-tokens-flex',
         'USW2-Claude4.6Opus-input-tokens', 'USW2-Claude4.6Opus-output-tokens'][ut + 1] AS line_item_usage_type,
        'InvokeModelInference' AS line_item_operation,
        'arn:aws:bedrock:us-east-1:' || lpad((100000000000 + acct)::VARCHAR, 12, '0') ||
            ':application-inference-profile/p' || prof AS line_item_resource_id,
        ((i * 7919) % 50000 + 1)::DOUBLE / 10 AS line_item_usage_amount,
        '1K tokens' AS pricing_unit,
        ['0.003', '0.015', '0.0003', '0.00375', '0.001', '0.005', '0.0008', '0.0032',
         '0.00006', '0.00024', '0.015', '0.075'][ut + 1] AS line_item_unblended_rate,
        round(((i * 7919) % 50000 + 1)::DOUBLE / 10 *
            [0.003, 0.015, 0.0003, 0.00375, 0.001, 0.005, 0.0008, 0.0032, 0.00006, 0.00024, 0.015, 0.075][ut + 1], 8) AS line_item_unblended_cost,
        round(((i * 7919) % 50000 + 1)::DOUBLE / 10 *
            [0.003, 0.015, 0.0003, 0.00375, 0.001, 0.005, 0.0008, 0.0032, 0.00006, 0.00024, 0.015, 0.075][ut + 1], 8) AS line_item_net_unblended_cost,
        'USD' AS line_item_currency_code,
        'Amazon Bedrock usage' AS line_item_line_item_description,
        'AmazonBedrock' AS product_servicecode,
        CASE WHEN ut >= 10 THEN 'us-west-2' ELSE 'us-east-1' END AS product_region_code,
        'SKU' || ut AS product_sku,
        round(((i * 7919) % 50000 + 1)::DOUBLE / 10 *
            [0.003, 0.015, 0.0003, 0.00375, 0.001, 0.005, 0.0008, 0.0032, 0.00006, 0.00024, 0.015, 0.075][ut + 1], 8) AS pricing_public_on_demand_cost,
        'arn:aws:iam::' || lpad((100000000000 + acct)::VARCHAR, 12, '0') || ':role/svc-' || (prof % 12) AS line_item_iam_principal,
        CASE WHEN prof % 10 = 9 THEN MAP {}::MAP(VARCHAR, VARCHAR)
             ELSE MAP {'user_team': 'team-' || (prof % 12), 'user_feature': 'feature-' || prof, 'user_env': ['prod', 'staging', 'dev'][prof % 3 + 1]}
        END AS resource_tags
    FROM t
) TO 'OUT' (FORMAT parquet, ROW_GROUP_SIZE 122880);
