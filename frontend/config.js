window.API_BASE_URL = "";
