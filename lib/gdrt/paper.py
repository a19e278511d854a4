"""What the paper reports, typed once, each with its table, figure or section (nothing measured lives here).

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

# Section 2.2 / Fig. 2: attribution ratio task : interaction, before and after SFT. The text gives
# "about 1:1" before and two datasets' values after (Toy 4.69, Clothing 6.58); Book's bar is only in
# the figure, and the prefix panel is described as "a similar phenomenon", with no number.
TASK_INTERACTION_BEFORE_SFT = 1.0          # "about 1:1"
FIG2_AFTER_SFT = {"Toy": 4.69, "Clothing": 6.58}  # two examples the text gives, not a range
FIG2_TEXT = {"task": "about 1:1 before SFT; after SFT, for example 4.69:1 (Toy) and 6.58:1 (Clothing)",
             "prefix": "rises after SFT, like task : interaction (no number in the text)"}
# Fig. 3: share of SFT's top-1 recommendations in item group 1, against the targets' share.
SFT_TOP1_GROUP1 = 0.80
TARGET_GROUP1 = 0.20
# Hyper-parameter grid (section 4): number of groups and temperature.
GRID_G = (2, 5, 10)
GRID_TAU = (0.1, 0.2, 0.3, 0.5, 1.0)

# Table 2 (section 4.2), the LLM rows that the book compares with: SFT and GDRT on each dataset,
# 5 epochs, beam 10 (section 4.1.3). The backbone the paper calls "LLaMA3-3B" is read here as
# Llama-3.2-3B; the paper states no training or test size (the data release trains LLMs on
# train_10000 and tests on test_5000, which is what we assume).
TABLE2 = {
    "Toy": {"SFT": {"ndcg@5": 0.0118, "ndcg@10": 0.0158, "hit@5": 0.0202, "hit@10": 0.0330, "mgu@5": 0.1870, "dgu@5": 0.6122},
            "GDRT": {"ndcg@5": 0.0152, "ndcg@10": 0.0203, "hit@5": 0.0246, "hit@10": 0.0405, "mgu@5": 0.1288, "dgu@5": 0.4031}},
    "Clothing": {"SFT": {"ndcg@5": 0.0038, "ndcg@10": 0.0063, "hit@5": 0.0078, "hit@10": 0.0156, "mgu@5": 0.1553, "dgu@5": 0.4908},
                 "GDRT": {"ndcg@5": 0.0054, "ndcg@10": 0.0096, "hit@5": 0.0118, "hit@10": 0.0246, "mgu@5": 0.0522, "dgu@5": 0.1996}},
    "Book": {"SFT": {"ndcg@5": 0.0067, "ndcg@10": 0.0103, "hit@5": 0.0116, "hit@10": 0.0228, "mgu@5": 0.1433, "dgu@5": 0.4742},
             "GDRT": {"ndcg@5": 0.0139, "ndcg@10": 0.0145, "hit@5": 0.0226, "hit@10": 0.0244, "mgu@5": 0.0579, "dgu@5": 0.2240}},
}
