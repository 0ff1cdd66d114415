"""The demo tables, shaped like Dataverse's account, donation and activitypointer."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()
TS = sa.DateTime(timezone=True)

account = sa.Table(
    "account",
    metadata,
    sa.Column("accountid", sa.Text, primary_key=True),
    sa.Column("name", sa.Text),
    sa.Column("accountnumber", sa.Text),
    sa.Column("revenue", sa.Numeric(19, 4)),
    sa.Column("creditlimit", sa.Numeric(19, 4)),
    sa.Column("exchangerate", sa.Numeric(23, 10)),
    sa.Column("numberofemployees", sa.Integer),
    sa.Column("industrycode", sa.Integer),
    sa.Column("telephone1", sa.Text),
    sa.Column("emailaddress1", sa.Text),
    sa.Column("address1_city", sa.Text),
    sa.Column("address1_country", sa.Text),
    sa.Column("_parentaccountid_value", sa.Text),
    sa.Column("_ownerid_value", sa.Text),
    sa.Column("statecode", sa.Integer),
    sa.Column("statuscode", sa.Integer),
    sa.Column("versionnumber", sa.BigInteger),
    sa.Column("createdon", TS),
    sa.Column("modifiedon", TS),
    sa.Column("msft_datastate", sa.Integer),
)

donation = sa.Table(
    "donation",
    metadata,
    sa.Column("donationid", sa.Text, primary_key=True),
    sa.Column("_accountid_value", sa.Text),
    sa.Column("amount", sa.Numeric(19, 4)),
    sa.Column("giftaidfactor", sa.Numeric(38, 18)),
    sa.Column("donationdate", sa.Date),
    sa.Column("campaign", sa.Text),
    sa.Column("paymentmethod", sa.Integer),
    sa.Column("statecode", sa.Integer),
    sa.Column("statuscode", sa.Integer),
    sa.Column("createdon", TS),
    sa.Column("modifiedon", TS),
)

activitypointer = sa.Table(
    "activitypointer",
    metadata,
    sa.Column("activityid", sa.Text, primary_key=True),
    sa.Column("subject", sa.Text),
    sa.Column("activitytypecode", sa.Text),
    sa.Column("_regardingobjectid_value", sa.Text),
    sa.Column("scheduledstart", TS),
    sa.Column("scheduledend", TS),
    sa.Column("actualdurationminutes", sa.Integer),
    sa.Column("prioritycode", sa.Integer),
    sa.Column("statecode", sa.Integer),
    sa.Column("statuscode", sa.Integer),
    sa.Column("createdon", TS),
    sa.Column("modifiedon", TS),
)

DEMO_TABLES: dict[str, sa.Table] = {t.name: t for t in (account, donation, activitypointer)}
PRIMARY_KEYS = {"account": "accountid", "donation": "donationid", "activitypointer": "activityid"}
