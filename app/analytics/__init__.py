"""Analytics tools of the Insights and Finance agents: pure functions from DataFrames to typed results.

RFM segmentation, BG/NBD churn and expected purchases, Gamma-Gamma spend and CLV, cohort retention,
lead scoring, revenue forecasting, a safe calculator, read-only queries over uploaded sheets and the
plotly charts that go with them. Every function is synchronous and side-effect free; async callers
run them in a thread.
"""
