"""What the paper reports, typed once (issue texts quote them; nothing measured lives here).

GDRT: "Does LLM Focus on the Right Words? Diagnosing Language Bias in LLM-based Recommenders"
(arXiv 2510.10978). Its experiments use Toy, Clothing and Book (Table 1); Office is the fourth set of
the same authors' MSL paper, the one set whose every split is public.
"""

TABLE1 = {  # paper Table 1: users, items, interactions
    "Toy": {"users": 19124, "items": 11758, "interactions": 165247},
    "Clothing": {"users": 39230, "items": 22948, "interactions": 277534},
    "Book": {"users": 16559, "items": 6344, "interactions": 151928},
}
MSL_TABLE4_OFFICE = {"users": 4895, "items": 2414, "interactions": 53149}  # MSL paper, Table 4

# Section 2.2 / Fig. 2: attribution ratio task : interaction, before and after SFT.
TASK_INTERACTION_BEFORE_SFT = 1.0          # "about 1:1"
TASK_INTERACTION_AFTER_SFT = (4.7, 6.6)    # range over datasets
# Fig. 3: share of SFT's top-1 recommendations in item group 1, against the targets' share.
SFT_TOP1_GROUP1 = 0.80
TARGET_GROUP1 = 0.20
# Hyper-parameter grid (section 4): number of groups and temperature.
GRID_G = (2, 5, 10)
GRID_TAU = (0.1, 0.2, 0.3, 0.5, 1.0)
